"""Interfaces: the command line, the Gradio web chat and the evaluation runners."""
