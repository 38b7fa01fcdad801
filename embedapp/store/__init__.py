"""Vector storage: the VectorStore over Qdrant (embedded or a server) and the content-hash
index. Opened only by the store worker (embedded storage admits one process)."""
