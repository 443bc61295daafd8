"""The query path: plan a request, ground it, run the generation, log it, stream it."""
