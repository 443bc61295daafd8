"""The agent graph as the query service runs it: the checkpointer and compiled graphs built
once per process (`runtime`), one turn run and streamed as frames (`turn`)."""
