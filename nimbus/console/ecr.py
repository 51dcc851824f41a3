"""ECR pages: repositories (create, delete), a repository's images (tags, digest, size, push time)
with the commands that push to it, delete an image."""

from __future__ import annotations

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PAGE_SIZE = 100


def repositories(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("ecr").describe_repositories, "repositories", "nextToken", maxResults=PAGE_SIZE
    )
    return Page("ecr_repositories.html", {"repositories": found, "next": following}, title="ECR repositories")


def create_repository(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name").strip()
    ctx.client("ecr").create_repository(repositoryName=name)
    return Done(url("/ecr/repository", name=name), f"Repository {name} created.")


def delete_repository(ctx: ConsoleRequest) -> Done:
    """Deletes the repository and its images (``force``: the page asks first)."""
    name = ctx.field("name")
    ctx.client("ecr").delete_repository(repositoryName=name, force=True)
    return Done(url("/ecr"), f"Repository {name} deleted.")


def repository(ctx: ConsoleRequest) -> Page:
    name = ctx.query("name")
    ecr = ctx.client("ecr")
    described = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    images, following = ctx.one_page(
        ecr.describe_images, "imageDetails", "nextToken", repositoryName=name, maxResults=PAGE_SIZE
    )
    images.sort(key=lambda image: image["imagePushedAt"], reverse=True)
    data = {
        "name": name,
        "repository": described,
        "images": images,
        "next": following,
        "registry": described["repositoryUri"].split("/", 1)[0],
    }
    return Page("ecr_repository.html", data, title=name)


def delete_image(ctx: ConsoleRequest) -> Done:
    name, digest = ctx.field("name"), ctx.field("digest")
    deleted = ctx.client("ecr").batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": digest}])
    failures = deleted.get("failures", [])
    if failures:
        raise ValueError(f"{failures[0]['failureCode']}: {failures[0]['failureReason']}")
    return Done(url("/ecr/repository", name=name), f"Image {digest} deleted.")


ROUTES = [
    get("/ecr", repositories),
    post("/ecr/create", create_repository),
    get("/ecr/repository", repository),
    post("/ecr/repository/delete", delete_repository),
    post("/ecr/repository/delete-image", delete_image),
]
