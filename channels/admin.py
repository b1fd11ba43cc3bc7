"""Channels admin: the channel models arrive with the channels issue."""
