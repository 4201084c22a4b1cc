"""Object search over the whole sky catalogue: BM25 + CLIP candidates, LambdaMART reranking.

Not to be confused with ``hubbleclip.evaluation``, which measures CLIP image↔text retrieval.
Modules: ``corpus`` (objects from a skyset + named stars), ``index`` (build / memory-mapped load),
``bm25``, ``features`` (candidates and features), ``ranker`` (LGBMRanker), ``relevance`` (image-query
grades), ``queries`` (graded text queries), ``searcher`` (the searcher) and ``evaluate`` (baselines vs
learned, eval/rerank.py).
"""
