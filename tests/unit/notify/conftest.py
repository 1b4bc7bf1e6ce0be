from tests.unit.notify.support import harness  # noqa: F401  (fixture)
