"""Where Spark comes from: the ``pyspark`` package's own distribution (its ``bin/spark-class`` and
``jars/``), Java 17 on the PATH, and the object file system jar that ``make install`` compiles."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# built by `make install` from java/*.java
OBJECT_FS_JAR = Path(sys.prefix) / "share" / "nimbus" / "spark" / "nimbus-object-fs.jar"
OBJECT_FS_CLASS = "nimbus.spark.NimbusObjectFileSystem"  # in place, for clusters without a role
S3_FS_CLASS = "nimbus.spark.NimbusS3FileSystem"  # over HTTP, as the cluster's role
OBJECT_SCHEMES = ("s3", "s3a", "s3n")


class SparkUnavailable(Exception):
    """Spark cannot run here (no Java, or the install step that builds the jar did not run)."""


def spark_home() -> Path:
    import pyspark  # py4j and pyspark take a while to import: not at start

    return Path(pyspark.__file__).parent


def spark_version() -> str:
    import pyspark

    return pyspark.__version__


def check_runtime() -> None:
    """Raises SparkUnavailable, saying what is missing, unless Spark can start here."""
    if shutil.which("java") is None:
        raise SparkUnavailable("Java 17 or later is not installed (Spark needs `java` on the PATH).")
    if not OBJECT_FS_JAR.is_file():
        raise SparkUnavailable(f"{OBJECT_FS_JAR} is missing: run `make install` to build it.")


def object_store_conf(objects_root: Path, journal: Path, ship_jar: bool = False) -> dict[str, str]:
    """Spark settings that make s3://, s3a:// and s3n:// paths the files of Nimbus S3 under
    ``objects_root``, recording what a job writes in ``journal`` (the fast path: the job acts with
    Nimbus's rights). With ``ship_jar`` (executors on other machines) the driver also serves the file
    system's jar to the executors."""
    return {
        **_file_system_conf(OBJECT_FS_CLASS, ship_jar),
        "spark.hadoop.fs.nimbus.root": str(objects_root),
        "spark.hadoop.fs.nimbus.journal": str(journal),
    }


def role_object_conf(
    endpoint: str, region: str, grant_file: Path, ca_bundle: str = "", ship_jar: bool = False
) -> dict[str, str]:
    """Spark settings that make s3://, s3a:// and s3n:// paths calls to Nimbus's S3 API at ``endpoint``,
    signed with the credentials of the role that the grant in ``grant_file`` (a job's
    ``AWS_CONTAINER_AUTHORIZATION_TOKEN``) gives, so each is authorized as that role; ``ca_bundle``
    verifies an HTTPS Nimbus."""
    conf = {
        **_file_system_conf(S3_FS_CLASS, ship_jar),
        "spark.hadoop.fs.nimbus.s3.endpoint": endpoint,
        "spark.hadoop.fs.nimbus.s3.region": region,
        "spark.hadoop.fs.nimbus.credentials.token-file": str(grant_file),
    }
    if ca_bundle:
        conf["spark.hadoop.fs.nimbus.ca-bundle"] = ca_bundle
    return conf


def _file_system_conf(file_system_class: str, ship_jar: bool) -> dict[str, str]:
    conf = {
        "spark.driver.extraClassPath": str(OBJECT_FS_JAR),
        "spark.executor.extraClassPath": str(OBJECT_FS_JAR),
        # Hadoop's defaults name the S3A committer for s3a://; the classic committer fits both file systems
        "spark.hadoop.mapreduce.outputcommitter.factory.scheme.s3a": (
            "org.apache.hadoop.mapreduce.lib.output.FileOutputCommitterFactory"
        ),
    }
    if ship_jar:
        conf["spark.jars"] = str(OBJECT_FS_JAR)
    for scheme in OBJECT_SCHEMES:
        conf[f"spark.hadoop.fs.{scheme}.impl"] = file_system_class
    return conf
