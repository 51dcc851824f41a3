"""Face collections through boto3 against a real server: collections, IndexFaces, search, users, and
faces that survive a server restart. Photos: scikit-image's astronaut and camera man, and official
White House photographs of Barack Obama and Joe Biden (public domain; see photos/README.md)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from PIL import Image
from skimage import data

PHOTOS = Path(__file__).with_name("photos")


def encoded(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return encoded(data.astronaut())


@pytest.fixture(scope="module")
def astronaut_again() -> bytes:
    """The astronaut's head recropped, enlarged and turned: the same person in another picture."""
    head = Image.fromarray(data.astronaut()[0:300, 100:400])
    return encoded(np.asarray(head.resize((450, 450)).rotate(10)))


@pytest.fixture(scope="module")
def camera_man() -> bytes:
    return encoded(np.stack([data.camera()] * 3, axis=-1))


@pytest.fixture(scope="module")
def two_people() -> bytes:
    """The astronaut (larger face) beside the camera man (smaller face), in one picture."""
    man = np.asarray(Image.fromarray(data.camera()).convert("RGB").resize((400, 400)))
    canvas = np.zeros((512, 912, 3), dtype=np.uint8)
    canvas[:, :512] = data.astronaut()
    canvas[56:456, 512:] = man
    return encoded(canvas)


def rekognition(nimbus: NimbusServer) -> Any:
    return nimbus.client("rekognition")


@pytest.fixture
def collection(nimbus: NimbusServer) -> Iterator[str]:
    name = f"faces-{uuid.uuid4().hex[:12]}"
    rekognition(nimbus).create_collection(CollectionId=name)
    yield name
    if nimbus.is_running():
        try:
            rekognition(nimbus).delete_collection(CollectionId=name)
        except ClientError as error:
            assert error_code(error) == "ResourceNotFoundException"


def test_collection_lifecycle(nimbus: NimbusServer) -> None:
    client = rekognition(nimbus)
    names = [f"life-{uuid.uuid4().hex[:8]}-{n}" for n in range(3)]
    created = client.create_collection(CollectionId=names[0], Tags={"team": "vision"})
    assert created["StatusCode"] == 200 and created["FaceModelVersion"] == "7.0"
    assert (
        created["CollectionArn"]
        == f"aws:rekognition:{nimbus.region}:{nimbus.account_id}:collection/{names[0]}"
    )
    for name in names[1:]:
        client.create_collection(CollectionId=name)
    described = client.describe_collection(CollectionId=names[0])
    assert described["FaceCount"] == 0 and described["UserCount"] == 0
    assert described["CreationTimestamp"].year >= 2025
    listed = [
        name
        for page in client.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 2})
        for name in page["CollectionIds"]
    ]
    assert [name for name in listed if name in names] == sorted(names)
    for name in names:
        assert client.delete_collection(CollectionId=name)["StatusCode"] == 200
    with pytest.raises(ClientError) as raised:
        client.describe_collection(CollectionId=names[0])
    assert error_code(raised) == "ResourceNotFoundException"


def test_index_search_list_and_delete_faces(
    nimbus: NimbusServer, collection: str, astronaut: bytes, astronaut_again: bytes, camera_man: bytes
) -> None:
    client = rekognition(nimbus)
    indexed = client.index_faces(
        CollectionId=collection, Image={"Bytes": astronaut}, ExternalImageId="astronaut.jpg"
    )
    (record,) = indexed["FaceRecords"]
    face = record["Face"]
    assert face["ExternalImageId"] == "astronaut.jpg" and face["IndexFacesModelVersion"] == "7.0"
    assert uuid.UUID(face["FaceId"]) and uuid.UUID(face["ImageId"])
    assert record["FaceDetail"]["BoundingBox"] == face["BoundingBox"]
    man_id = client.index_faces(CollectionId=collection, Image={"Bytes": camera_man})["FaceRecords"][0][
        "Face"
    ]["FaceId"]

    found = client.search_faces_by_image(CollectionId=collection, Image={"Bytes": astronaut_again})
    assert [match["Face"]["FaceId"] for match in found["FaceMatches"]] == [face["FaceId"]]
    assert found["FaceMatches"][0]["Similarity"] >= 80 and found["SearchedFaceConfidence"] > 80
    assert found["FaceMatches"][0]["Face"]["ExternalImageId"] == "astronaut.jpg"
    assert 0 < found["SearchedFaceBoundingBox"]["Width"] < 1
    everyone = client.search_faces_by_image(
        CollectionId=collection, Image={"Bytes": astronaut_again}, FaceMatchThreshold=0, MaxFaces=1
    )
    assert [match["Face"]["FaceId"] for match in everyone["FaceMatches"]] == [face["FaceId"]]
    by_id = client.search_faces(CollectionId=collection, FaceId=face["FaceId"], FaceMatchThreshold=0)
    assert by_id["SearchedFaceId"] == face["FaceId"]
    assert [match["Face"]["FaceId"] for match in by_id["FaceMatches"]] == [man_id]  # never itself
    assert by_id["FaceMatches"][0]["Similarity"] < 80

    pages = list(
        client.get_paginator("list_faces").paginate(CollectionId=collection, PaginationConfig={"PageSize": 1})
    )
    assert sorted(f["FaceId"] for page in pages for f in page["Faces"]) == sorted([face["FaceId"], man_id])
    assert len(pages) == 2
    assert client.describe_collection(CollectionId=collection)["FaceCount"] == 2

    missing = str(uuid.uuid4())
    deleted = client.delete_faces(CollectionId=collection, FaceIds=[man_id, missing])
    assert deleted["DeletedFaces"] == [man_id]
    assert deleted["UnsuccessfulFaceDeletions"] == [{"FaceId": missing, "Reasons": ["FACE_NOT_FOUND"]}]
    after = client.search_faces(CollectionId=collection, FaceId=face["FaceId"], FaceMatchThreshold=0)
    assert after["FaceMatches"] == []


def test_search_finds_each_person_in_other_photos_and_strangers_nowhere(
    nimbus: NimbusServer, collection: str, astronaut: bytes
) -> None:
    """Indexed from one portrait each (faces of about 100 px); searched with other photos of one of
    them, his face about 45 px wide, and with a stranger."""
    client = rekognition(nimbus)
    for person, photo in (("obama", "obama_portrait.jpg"), ("biden", "biden.jpg")):
        client.index_faces(
            CollectionId=collection, Image={"Bytes": (PHOTOS / photo).read_bytes()}, ExternalImageId=person
        )
    for photo in ("obama_standing_small.jpg", "obama_speaking_small.jpg"):
        found = client.search_faces_by_image(
            CollectionId=collection, Image={"Bytes": (PHOTOS / photo).read_bytes()}
        )
        assert found["SearchedFaceBoundingBox"]["Width"] * Image.open(PHOTOS / photo).width < 60
        assert [match["Face"]["ExternalImageId"] for match in found["FaceMatches"]] == ["obama"], photo
        assert found["FaceMatches"][0]["Similarity"] >= 80
    stranger = client.search_faces_by_image(CollectionId=collection, Image={"Bytes": astronaut})
    assert stranger["FaceMatches"] == []


def test_index_faces_keeps_the_largest_faces(
    nimbus: NimbusServer, collection: str, two_people: bytes
) -> None:
    answer = rekognition(nimbus).index_faces(
        CollectionId=collection, Image={"Bytes": two_people}, MaxFaces=1, DetectionAttributes=["ALL"]
    )
    (record,) = answer["FaceRecords"]
    assert record["Face"]["BoundingBox"]["Left"] < 0.5  # the astronaut, on the left, has the larger face
    assert "AgeRange" in record["FaceDetail"]
    (skipped,) = answer["UnindexedFaces"]
    assert skipped["Reasons"] == ["EXCEEDS_MAX_FACES"] and skipped["FaceDetail"]["BoundingBox"]["Left"] > 0.5
    strict = rekognition(nimbus).index_faces(
        CollectionId=collection, Image={"Bytes": two_people}, QualityFilter="HIGH"
    )
    # at HIGH the camera man's small, soft face is refused with its reasons
    reasons = {reason for face in strict.get("UnindexedFaces", []) for reason in face["Reasons"]}
    assert len(strict["FaceRecords"]) + len(strict.get("UnindexedFaces", [])) == 2
    assert reasons <= {
        "LOW_BRIGHTNESS",
        "LOW_SHARPNESS",
        "SMALL_BOUNDING_BOX",
        "LOW_CONFIDENCE",
        "EXTREME_POSE",
    }


def test_users_group_faces(
    nimbus: NimbusServer, collection: str, astronaut: bytes, astronaut_again: bytes, camera_man: bytes
) -> None:
    client = rekognition(nimbus)
    hers = [
        client.index_faces(CollectionId=collection, Image={"Bytes": image})["FaceRecords"][0]["Face"][
            "FaceId"
        ]
        for image in (astronaut, astronaut_again)
    ]
    his = client.index_faces(CollectionId=collection, Image={"Bytes": camera_man})["FaceRecords"][0]["Face"][
        "FaceId"
    ]
    client.create_user(CollectionId=collection, UserId="eileen")
    client.create_user(CollectionId=collection, UserId="man")
    assert client.list_users(CollectionId=collection)["Users"] == [
        {"UserId": "eileen", "UserStatus": "CREATED"},
        {"UserId": "man", "UserStatus": "CREATED"},
    ]
    first = client.associate_faces(CollectionId=collection, UserId="eileen", FaceIds=[hers[0]])
    assert first["AssociatedFaces"] == [{"FaceId": hers[0]}] and first["UserStatus"] == "ACTIVE"
    second = client.associate_faces(CollectionId=collection, UserId="eileen", FaceIds=[hers[1], his])
    assert second["AssociatedFaces"] == [{"FaceId": hers[1]}]
    (refused,) = second["UnsuccessfulFaceAssociations"]
    assert refused["FaceId"] == his and refused["Reasons"] == ["LOW_MATCH_CONFIDENCE"]
    client.associate_faces(CollectionId=collection, UserId="man", FaceIds=[his])
    taken = client.associate_faces(CollectionId=collection, UserId="man", FaceIds=[hers[0]])
    assert taken["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]

    by_image = client.search_users_by_image(CollectionId=collection, Image={"Bytes": astronaut_again})
    assert [m["User"]["UserId"] for m in by_image["UserMatches"]] == ["eileen"]
    assert by_image["UserMatches"][0]["Similarity"] >= 80 and "FaceDetail" in by_image["SearchedFace"]
    by_face = client.search_users(CollectionId=collection, FaceId=hers[0])
    assert [m["User"]["UserId"] for m in by_face["UserMatches"]] == ["eileen"]
    by_user = client.search_users(CollectionId=collection, UserId="eileen", UserMatchThreshold=0)
    assert [m["User"]["UserId"] for m in by_user["UserMatches"]] == ["man"]
    listed = client.list_faces(CollectionId=collection, UserId="eileen")["Faces"]
    assert sorted(f["FaceId"] for f in listed) == sorted(hers) and all(
        f["UserId"] == "eileen" for f in listed
    )

    kept = client.delete_faces(CollectionId=collection, FaceIds=[his])
    assert kept["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"]
    left = client.disassociate_faces(CollectionId=collection, UserId="man", FaceIds=[his])
    assert left["DisassociatedFaces"] == [{"FaceId": his}] and left["UserStatus"] == "CREATED"
    assert client.delete_faces(CollectionId=collection, FaceIds=[his])["DeletedFaces"] == [his]
    with pytest.raises(ClientError) as raised:
        client.create_user(CollectionId=collection, UserId="eileen")
    assert error_code(raised) == "ConflictException"
    client.delete_user(CollectionId=collection, UserId="eileen")
    assert all("UserId" not in f for f in client.list_faces(CollectionId=collection)["Faces"])
    assert (
        client.search_users_by_image(CollectionId=collection, Image={"Bytes": astronaut}).get(
            "UserMatches", []
        )
        == []
    )


def test_faces_survive_a_restart(
    nimbus: NimbusServer,
    restart_server: Callable[[], NimbusServer],
    collection: str,
    astronaut: bytes,
    astronaut_again: bytes,
) -> None:
    client = rekognition(nimbus)
    face_id = client.index_faces(CollectionId=collection, Image={"Bytes": astronaut})["FaceRecords"][0][
        "Face"
    ]["FaceId"]
    client.create_user(CollectionId=collection, UserId="eileen")
    client.associate_faces(CollectionId=collection, UserId="eileen", FaceIds=[face_id])
    restarted = rekognition(restart_server())
    assert restarted.describe_collection(CollectionId=collection)["FaceCount"] == 1
    found = restarted.search_faces_by_image(CollectionId=collection, Image={"Bytes": astronaut_again})
    assert [match["Face"]["FaceId"] for match in found["FaceMatches"]] == [face_id]
    users = restarted.search_users_by_image(CollectionId=collection, Image={"Bytes": astronaut_again})
    assert [m["User"]["UserId"] for m in users["UserMatches"]] == ["eileen"]


def test_a_collection_of_the_earlier_face_model_keeps_it(
    nimbus: NimbusServer,
    restart_server: Callable[[], NimbusServer],
    collection: str,
    astronaut: bytes,
    astronaut_again: bytes,
    camera_man: bytes,
) -> None:
    """Collections made before Nimbus moved to SFace (FaceModelVersion 6.0) hold dlib descriptors:
    they keep indexing and searching with dlib's network, as an AWS collection keeps its model."""
    nimbus.stop()
    database = sqlalchemy.create_engine(
        nimbus.settings.get("NIMBUS_DATABASE_URL") or f"sqlite:///{nimbus.data_dir / 'nimbus.db'}"
    )
    with database.begin() as connection:  # the row as an earlier Nimbus left it
        connection.execute(
            sqlalchemy.text(
                "UPDATE rekognition_collections SET face_model_version = '6.0' WHERE collection_id = :name"
            ),
            {"name": collection},
        )
    database.dispose()
    client = rekognition(restart_server())
    assert client.describe_collection(CollectionId=collection)["FaceModelVersion"] == "6.0"
    indexed = client.index_faces(CollectionId=collection, Image={"Bytes": astronaut})
    assert indexed["FaceModelVersion"] == "6.0"
    assert indexed["FaceRecords"][0]["Face"]["IndexFacesModelVersion"] == "6.0"
    face_id = indexed["FaceRecords"][0]["Face"]["FaceId"]
    found = client.search_faces_by_image(CollectionId=collection, Image={"Bytes": astronaut_again})
    assert [match["Face"]["FaceId"] for match in found["FaceMatches"]] == [face_id]
    assert found["FaceModelVersion"] == "6.0"
    stranger = client.search_faces_by_image(CollectionId=collection, Image={"Bytes": camera_man})
    assert stranger["FaceMatches"] == []
    fresh = f"faces-{uuid.uuid4().hex[:12]}"
    assert client.create_collection(CollectionId=fresh)["FaceModelVersion"] == "7.0"
    client.delete_collection(CollectionId=fresh)
