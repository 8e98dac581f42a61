"""Reading: files of every format into Article records, with a parse report."""
