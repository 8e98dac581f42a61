"""The language layer: one spaCy pipeline, loaded once, turning text into a typed, serialisable Analysis."""
