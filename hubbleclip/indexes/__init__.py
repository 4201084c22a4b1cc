"""What makes an index directory travel: its files' digests, its query encoder (copied in or named
by a weights digest) and previews of the images it serves.  Both the retrieval index
(:mod:`hubbleclip.search.index`) and the similarity index (:mod:`hubbleclip.similarity.index`)
record a :class:`~hubbleclip.indexes.travel.Travel` section in their manifest."""
