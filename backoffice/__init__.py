"""Back-office pages inside the admin: the owner dashboard, the calendar timeline and the reports.

Each module holds the read logic (plain functions, scoped to the user's
properties) and a thin view; ``backoffice.admin_site`` wires them into the admin.
"""
