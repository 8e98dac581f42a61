"""Index: chunking, embedding, the vector store, keyword and people indexes, the incremental indexer, retrieval."""
