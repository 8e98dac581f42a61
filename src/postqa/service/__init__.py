"""Service: the Assistant (question in, Answer out) and the pipeline, the one place that wires components."""
