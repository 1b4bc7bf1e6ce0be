"""What every part of Canhgac shares: settings, errors, contracts, registries, metrics."""
