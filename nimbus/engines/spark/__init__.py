"""Spark standalone clusters on this machine: master and worker JVMs on loopback, steps as
spark-submit in client mode, and Hadoop file systems for Nimbus S3: one that reads and writes the
object files in place, one that calls Nimbus's S3 API as a role."""
