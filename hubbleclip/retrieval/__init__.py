"""Object retrieval over the whole sky catalog: BM25 + CLIP candidates, LambdaMART reranking.

Modules: ``corpus`` (objects from a skyset + named stars), ``index`` (build / memory-mapped load),
``bm25``, ``features`` (candidates and features), ``ranker`` (LGBMRanker), ``relevance`` (image-query
grades), ``queries`` (graded text queries), ``metrics`` (MAP@k, NDCG@k), ``search`` (the searcher),
``evaluate`` (baselines vs learned, eval/rerank.py) and ``bench`` (bench/bench_search.py).
"""
