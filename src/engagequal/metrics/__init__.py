"""Metric families: reciprocity, conversations, Dunbar layers, quality."""
