"""Helpers shared by the integration and end-to-end suites (imported as `helpers.*`)."""


def file_text(path):
    """A log file's text so far, undecodable bytes replaced; "" before it exists."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
