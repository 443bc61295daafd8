import pytest

# Failed asserts inside the shared helpers (tests/support/) explain themselves, as in tests.
pytest.register_assert_rewrite("tests.support")
