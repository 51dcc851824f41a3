"""Where Spark comes from: the ``pyspark`` package's own distribution (its ``bin/spark-class`` and
``jars/``), Java 17 on the PATH, and the object file system jar that ``make install`` compiles."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# built by `make install` from java/*.java
OBJECT_FS_JAR = Path(sys.prefix) / "share" / "nimbus" / "spark" / "nimbus-object-fs.jar"
OBJECT_FS_CLASS = "nimbus.spark.NimbusObjectFileSystem"
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
    ``objects_root``, recording what a job writes in ``journal``. With ``ship_jar`` (executors on
    other machines) the driver also serves the file system's jar to the executors."""
    conf = {
        "spark.driver.extraClassPath": str(OBJECT_FS_JAR),
        "spark.executor.extraClassPath": str(OBJECT_FS_JAR),
        "spark.hadoop.fs.nimbus.root": str(objects_root),
        "spark.hadoop.fs.nimbus.journal": str(journal),
        # Hadoop's defaults name the S3A committer for s3a://; the file system's own committer fits here
        "spark.hadoop.mapreduce.outputcommitter.factory.scheme.s3a": (
            "org.apache.hadoop.mapreduce.lib.output.FileOutputCommitterFactory"
        ),
    }
    if ship_jar:
        conf["spark.jars"] = str(OBJECT_FS_JAR)
    for scheme in OBJECT_SCHEMES:
        conf[f"spark.hadoop.fs.{scheme}.impl"] = OBJECT_FS_CLASS
    return conf


def object_access_conf(endpoint: str, region: str, grant_file: Path, ca_bundle: str = "") -> dict[str, str]:
    """Spark settings that make the object file system ask Nimbus at ``endpoint`` before each open,
    create, rename, delete and listing, signed with the credentials of the role that the grant in
    ``grant_file`` (a job's ``AWS_CONTAINER_AUTHORIZATION_TOKEN``) gives; ``ca_bundle`` verifies an
    HTTPS Nimbus."""
    conf = {
        "spark.hadoop.fs.nimbus.authorization.endpoint": endpoint,
        "spark.hadoop.fs.nimbus.authorization.region": region,
        "spark.hadoop.fs.nimbus.credentials.token-file": str(grant_file),
    }
    if ca_bundle:
        conf["spark.hadoop.fs.nimbus.ca-bundle"] = ca_bundle
    return conf
