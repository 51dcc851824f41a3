"""Spark standalone clusters on this machine: master and worker JVMs on loopback, steps as
spark-submit in client mode, and a Hadoop file system that reads and writes Nimbus S3 in place."""
