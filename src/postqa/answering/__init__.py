"""Answering: question analysis, short-answer extraction, news/time awareness and generation."""
