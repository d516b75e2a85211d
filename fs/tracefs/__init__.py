"""fs/tracefs: a pseudo-filesystem tree served over FUSE or inside pyfakefs. Knows nothing of tracing."""
