"""Rendering: turns core results into text (rich tables, JSON) and pictures.

Only this package imports rich and matplotlib, and matplotlib only when a picture is asked for.
"""
