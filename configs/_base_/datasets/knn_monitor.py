# The online kNN monitor (cgh_mm's KNNValLoop): at each validation, the backbone's
# pooled features of a labelled memory set vote, weighted, for the labels of the
# queries (k=20, T=0.07). A dataset base adds the memory set to knn_memory_dataloader
# and the queries to val_dataloader, then hands the completed memory loader to the loop
# with `val_cfg = dict(memory_dataloader=knn_memory_dataloader)`.
knn_memory_dataloader = dict(
    batch_size=256,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
val_dataloader = knn_memory_dataloader
val_evaluator = dict(type='WeightedKNNAccuracy', k=20, temperature=0.07)
val_cfg = dict(type='KNNValLoop', memory_dataloader=knn_memory_dataloader)
