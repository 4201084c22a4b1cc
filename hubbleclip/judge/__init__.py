"""LLM-judged text→image relevance, as PAPERCLIP measured it: for each text query, the top-k
images of each CLIP model; an LLM answers, constrained to a yes/no schema, whether each image's
source text is relevant to the query.  Reported per model with bootstrap intervals, and against
the catalog-derived relevance of the same (query, image) pairs."""
