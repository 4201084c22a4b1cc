"""Studies that train and evaluate together: the ablation study, cross-validation by object and the
weight interpolation between a base and a tuned model.  Above both training and evaluation."""
