from canhgac.cli import main

raise SystemExit(main())
