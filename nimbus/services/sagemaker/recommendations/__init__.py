"""SageMaker Inference Recommender: load tests of a model on this machine, at each instance type's
cores, with every figure marked measured, projected or not measurable."""
