"""Payments admin: the payment models arrive with the payments issue."""
