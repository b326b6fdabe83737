"""Helpers shared by the integration and end-to-end suites (imported as `helpers.*`)."""
