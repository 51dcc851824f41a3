"""SageMaker Ground Truth's pieces: the built-in task types, annotation consolidation across workers,
and the records of workteams, jobs, data objects and answers."""
