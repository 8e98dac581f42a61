"""`python -m postqa.index.onnx_export`: export the configured model to ONNX (postqa.index.embedding.export)."""

import sys

from postqa.index.embedding.export import main

if __name__ == "__main__":
    sys.exit(main())
