from mercato.recommend import ItemKNN, bm25_weight, tfidf_weight  # noqa: F401

# implicit's kNN classes all derive from ItemItemRecommender; here they are one class.
ItemItemRecommender = ItemKNN


def CosineRecommender(K=20, num_threads=0):
    return ItemKNN(K=K, weighting="cosine", num_threads=num_threads)


def TFIDFRecommender(K=20, num_threads=0):
    return ItemKNN(K=K, weighting="tfidf", num_threads=num_threads)


def BM25Recommender(K=20, K1=1.2, B=0.75, num_threads=0):
    return ItemKNN(K=K, weighting="bm25", K1=K1, B=B, num_threads=num_threads)
