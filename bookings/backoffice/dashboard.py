"""The owner dashboard shown on the admin index (placeholder: filled in by the dashboard slice)."""


def dashboard_context(request) -> dict:
    return {}
