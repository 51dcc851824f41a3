"""The spark-submit command a step becomes: the cluster's master, client mode, Nimbus's settings first."""

from __future__ import annotations

from nimbus.engines.spark.submit import submit_command


def test_the_cluster_decides_master_and_deploy_mode() -> None:
    command = submit_command(
        "spark://127.0.0.1:7077",
        [
            "--deploy-mode",
            "cluster",
            "--master=yarn",
            "--conf",
            "spark.x=1",
            "--verbose",
            "s3://b/app.py",
            "--master",
        ],
        {"spark.driver.host": "127.0.0.1"},
    )
    assert command[1:] == [
        "--master",
        "spark://127.0.0.1:7077",
        "--deploy-mode",
        "client",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.x=1",
        "--verbose",
        "s3://b/app.py",
        "--master",  # the application's own argument, kept
    ]
