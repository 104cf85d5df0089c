"""Reading polygon layers: GeoJSON, shapefiles and zipped shapefiles in several CRSs, and every refusal."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pyogrio.raw
import pyproj
import pytest
import shapely
from shapely.geometry import Point, Polygon

from precinct.core.geo import GeoFileError, read_polygon_features, validate_polygons

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DISTRICTS_ZIP = DATA / "portland" / "portland-police-districts.zip"

# A small square in inner south-east Portland, lon/lat.
SQUARE = Polygon([(-122.65, 45.51), (-122.64, 45.51), (-122.64, 45.52), (-122.65, 45.52)])
TRIANGLE = Polygon([(-122.70, 45.50), (-122.68, 45.50), (-122.69, 45.53)])


def _write_layer(path: Path, geometries: list[shapely.Geometry], crs: str, driver: str) -> None:
    """Write lon/lat geometries to ``path`` in ``crs`` with a few attribute types."""
    to_crs = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    projected = shapely.transform(
        np.array(geometries, dtype=object), lambda c: np.column_stack(to_crs.transform(c[:, 0], c[:, 1]))
    )
    count = len(geometries)
    pyogrio.raw.write(
        path,
        shapely.to_wkb(projected),
        field_data=[
            np.array([f"D{i}" for i in range(count)], dtype=object),
            np.arange(count, dtype=np.int64),
            np.array([1.5] + [math.nan] * (count - 1)),
        ],
        fields=["DISTRICT", "rank", "score"],
        geometry_type="Polygon",
        crs=crs,
        driver=driver,
    )


def _zip(zip_path: Path, files: dict[str, Path]) -> None:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for member, source in files.items():
            archive.write(source, member)


def _shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.iterdir() if p.stem == shp.stem)


def _assert_is_square_and_triangle(features: list) -> None:
    assert [f.index for f in features] == [0, 1]
    for feature, expected in zip(features, (SQUARE, TRIANGLE), strict=True):
        assert feature.geometry.geom_type == "Polygon"
        np.testing.assert_allclose(
            np.sort(shapely.get_coordinates(feature.geometry), axis=0),
            np.sort(shapely.get_coordinates(shapely.orient_polygons(expected)), axis=0),
            atol=1e-6,
        )


@pytest.mark.parametrize("crs", ["EPSG:2913", "EPSG:3857", "EPSG:4326"])
@pytest.mark.parametrize(("suffix", "driver"), [(".geojson", "GeoJSON"), (".shp", "ESRI Shapefile")])
def test_reads_and_reprojects_to_wgs84(tmp_path: Path, crs: str, suffix: str, driver: str) -> None:
    path = tmp_path / f"districts{suffix}"
    _write_layer(path, [SQUARE, TRIANGLE], crs, driver)

    features = read_polygon_features(path)

    _assert_is_square_and_triangle(features)
    assert features[0].properties == {"DISTRICT": "D0", "rank": 0, "score": 1.5}
    assert features[1].properties["score"] is None  # NaN is not JSON
    assert type(features[1].properties["rank"]) is int
    json.dumps([f.properties for f in features])


def test_web_mercator_point_matches_the_closed_form(tmp_path: Path) -> None:
    # Spherical Mercator has a closed form, so this checks reprojection without trusting pyproj's forward step.
    radius_m = 6_378_137.0
    lon, lat = -122.6765, 45.5231
    x_m = math.radians(lon) * radius_m
    y_m = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * radius_m
    square = shapely.box(x_m, y_m, x_m + 100.0, y_m + 100.0)
    path = tmp_path / "mercator.geojson"
    pyogrio.raw.write(path, shapely.to_wkb(np.array([square])), [], [], geometry_type="Polygon", crs="EPSG:3857")

    (feature,) = read_polygon_features(path)

    min_lon, min_lat, _, _ = feature.geometry.bounds
    assert min_lon == pytest.approx(lon, abs=1e-6)
    assert min_lat == pytest.approx(lat, abs=1e-6)


def test_reads_zipped_shapefile_in_a_subfolder(tmp_path: Path) -> None:
    shp = tmp_path / "src" / "beats.shp"
    shp.parent.mkdir()
    _write_layer(shp, [SQUARE, TRIANGLE], "EPSG:2913", "ESRI Shapefile")
    zip_path = tmp_path / "beats.zip"
    _zip(zip_path, {f"export/2016/{part.name}": part for part in _shapefile_parts(shp)})

    _assert_is_square_and_triangle(read_polygon_features(zip_path))
    # Reading never unpacks the archive next to it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beats.zip", "src"]


def test_zip_with_several_shapefiles_needs_a_layer(tmp_path: Path) -> None:
    members: dict[str, Path] = {}
    for name, crs in (("north", "EPSG:2913"), ("south", "EPSG:3857")):
        shp = tmp_path / name / f"{name}.shp"
        shp.parent.mkdir()
        _write_layer(shp, [SQUARE, TRIANGLE], crs, "ESRI Shapefile")
        members |= {f"{name}/{part.name}": part for part in _shapefile_parts(shp)}
    zip_path = tmp_path / "both.zip"
    _zip(zip_path, members)

    with pytest.raises(GeoFileError, match="several shapefiles") as error:
        read_polygon_features(zip_path)
    assert "north/north.shp" in str(error.value)
    assert "both.zip" in str(error.value)
    _assert_is_square_and_triangle(read_polygon_features(zip_path, layer="south"))
    _assert_is_square_and_triangle(read_polygon_features(zip_path, layer="north/north.shp"))
    with pytest.raises(GeoFileError, match="no shapefile named 'east'"):
        read_polygon_features(zip_path, layer="east")


def test_keeps_missing_and_non_polygon_geometries_for_validation(tmp_path: Path) -> None:
    path = tmp_path / "mixed.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"n": 1}, "geometry": shapely.geometry.mapping(SQUARE)},
                    {"type": "Feature", "properties": {"n": 2}, "geometry": {"type": "Point", "coordinates": [0, 0]}},
                    {"type": "Feature", "properties": {"n": 3}, "geometry": None},
                ],
            }
        )
    )

    features = read_polygon_features(path)

    assert [f.properties["n"] for f in features] == [1, 2, 3]
    assert [f.is_polygonal for f in features] == [True, False, False]
    assert features[1].geometry == Point(0, 0)
    assert features[2].geometry is None
    kinds = [(p.index, p.kind) for p in validate_polygons(features)]
    assert kinds == [(1, "not_polygon"), (2, "missing_geometry")]


def test_dates_become_iso_strings(tmp_path: Path) -> None:
    path = tmp_path / "dated.geojson"
    feature = {"type": "Feature", "properties": {"since": "2016-08-01"}, "geometry": shapely.geometry.mapping(SQUARE)}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))

    (read,) = read_polygon_features(path)

    assert read.properties == {"since": "2016-08-01"}


@pytest.mark.skipif(not DISTRICTS_ZIP.is_file(), reason=f"shared data not found at {DATA}")
def test_real_portland_districts() -> None:
    features = read_polygon_features(DISTRICTS_ZIP)

    assert len(features) == 60
    assert {f.properties["PRECINCT"] for f in features} == {"NO", "EA", "CE"}
    assert len({f.properties["DISTRICT"] for f in features}) == 60
    min_lon, min_lat, max_lon, max_lat = shapely.total_bounds([f.geometry for f in features])
    assert -122.9 < min_lon < max_lon < -122.4
    assert 45.4 < min_lat < max_lat < 45.7
    # What the published file holds: two districts whose ring touches itself at one point (harmless: repairing
    # them changes no area) and only sub-square-millimetre digitising overlaps between neighbours.
    problems = validate_polygons(features)
    assert [(p.index, p.kind, features[p.index].properties["DISTRICT"]) for p in problems] == [
        (26, "invalid", "800"),
        (34, "invalid", "860"),
    ]
    assert "self-intersection at (-122.75" in problems[0].message


# --- refusals -------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GeoFileError, match=r"nowhere\.geojson: does not exist"):
        read_polygon_features(tmp_path / "nowhere.geojson")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(GeoFileError, match="is a directory"):
        read_polygon_features(tmp_path)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "districts.kml"
    path.write_text("<kml/>")
    with pytest.raises(GeoFileError, match=r"districts\.kml: unsupported file type '\.kml'"):
        read_polygon_features(path)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("garbage.geojson", "cannot be read as GeoJSON: not valid JSON"),
        ("garbage.json", "cannot be read as GeoJSON: not valid JSON"),
        ("garbage.shp", "not a shapefile"),
    ],
)
def test_garbage_bytes(tmp_path: Path, name: str, problem: str) -> None:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(GeoFileError, match=f"{name}: {problem}"):
        read_polygon_features(path)


def test_truncated_shapefile(tmp_path: Path) -> None:
    shp = tmp_path / "cut.shp"
    _write_layer(shp, [SQUARE, TRIANGLE], "EPSG:2913", "ESRI Shapefile")
    shp.write_bytes(shp.read_bytes()[:120])
    shp.with_suffix(".shx").write_bytes(b"\x00\x00\x27\x0a" + bytes(40))
    with pytest.raises(GeoFileError, match=r"cut\.shp: cannot be read as a shapefile"):
        read_polygon_features(shp)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("a.geojson", "GeoJSON Feature"), ("b.json", "top-level type is 'Polygon ring'")],
)
def test_malformed_geojson(tmp_path: Path, name: str, problem: str) -> None:
    path = tmp_path / name
    content = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}, [1, 2]]}
    path.write_text(json.dumps(content if name.endswith(".geojson") else {"type": "Polygon ring"}))
    with pytest.raises(GeoFileError, match=problem):
        read_polygon_features(path)


def test_malformed_geometry_names_the_feature(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    bad = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[1, 2], "x"]}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [bad]}))
    with pytest.raises(GeoFileError, match=r"broken\.geojson: .*feature 0 has a malformed Polygon"):
        read_polygon_features(path)


def test_garbage_zip(tmp_path: Path) -> None:
    path = tmp_path / "garbage.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(GeoFileError, match=r"garbage\.zip: not a readable zip archive"):
        read_polygon_features(path)


def test_empty_zip(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    with pytest.raises(GeoFileError, match=r"empty\.zip: the zip archive is empty"):
        read_polygon_features(path)


def test_zip_without_shapefile(tmp_path: Path) -> None:
    path = tmp_path / "docs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "districts to follow")
        archive.writestr("__MACOSX/._districts.shp", "AppleDouble shadow, not a shapefile")
    with pytest.raises(GeoFileError, match=r"docs\.zip: the zip archive holds no shapefile.*readme\.txt"):
        read_polygon_features(path)


def test_zip_member_climbing_out_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../etc/districts.shp", b"")
    with pytest.raises(GeoFileError, match="unsafe"):
        read_polygon_features(path)


def test_layer_without_features(tmp_path: Path) -> None:
    path = tmp_path / "none.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(GeoFileError, match=r"none\.geojson: the layer has no features"):
        read_polygon_features(path)


def test_layer_without_polygons(tmp_path: Path) -> None:
    path = tmp_path / "points.geojson"
    point = {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [-122.6, 45.5]}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [point, {**point, "geometry": None}]}))
    with pytest.raises(GeoFileError, match=r"points\.geojson: the layer has no polygon features \(Point\)"):
        read_polygon_features(path)


def test_shapefile_without_prj(tmp_path: Path) -> None:
    shp = tmp_path / "bare.shp"
    _write_layer(shp, [SQUARE], "EPSG:2913", "ESRI Shapefile")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(GeoFileError, match=r"bare\.shp: the shapefile has no coordinate reference system.*\.prj"):
        read_polygon_features(shp)


def test_zipped_shapefile_without_prj(tmp_path: Path) -> None:
    shp = tmp_path / "bare.shp"
    _write_layer(shp, [SQUARE], "EPSG:2913", "ESRI Shapefile")
    zip_path = tmp_path / "bare.zip"
    _zip(zip_path, {p.name: p for p in _shapefile_parts(shp) if p.suffix != ".prj"})
    with pytest.raises(GeoFileError, match=r"bare\.zip: the shapefile has no coordinate reference system"):
        read_polygon_features(zip_path)


def test_single_file_layer_name_must_match(tmp_path: Path) -> None:
    path = tmp_path / "beats.geojson"
    path.write_text(json.dumps(shapely.geometry.mapping(SQUARE)))
    assert len(read_polygon_features(path, layer="beats")) == 1
    with pytest.raises(GeoFileError, match="has one layer, 'beats', not 'districts'"):
        read_polygon_features(path, layer="districts")


def test_nested_properties_become_json_text(tmp_path: Path) -> None:
    path = tmp_path / "nested.geojson"
    properties = {"contacts": {"desk": "503-555-0100"}, "beats": [1, 2], "ratio": float("nan")}
    feature = {"type": "Feature", "properties": properties, "geometry": shapely.geometry.mapping(SQUARE)}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))

    (read,) = read_polygon_features(path)

    assert read.properties == {"contacts": '{"desk": "503-555-0100"}', "beats": "[1, 2]", "ratio": None}


# --- files that try to make GDAL read something else ------------------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.csv"
    path.write_text('WKT,secret\n"POLYGON((0 0,1 0,1 1,0 0))",hunter2\n')
    return path


def _vrt(source: Path) -> str:
    return (
        f"<OGRVRTDataSource><OGRVRTLayer name='secret'><SrcDataSource>{source}</SrcDataSource>"
        "<LayerSRS>EPSG:4326</LayerSRS><GeometryField encoding='WKT' field='WKT'/></OGRVRTLayer></OGRVRTDataSource>"
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda source: _vrt(source), id="vrt"),
        pytest.param(lambda source: "{" + _vrt(source), id="vrt-after-brace"),
        pytest.param(lambda source: json.dumps({"type": "FeatureCollection", "x": _vrt(source)}), id="vrt-in-json"),
        pytest.param(
            lambda source: json.dumps(
                {"type": "gdal_streamed_alg", "command_line": f"gdal vector pipeline ! read {source} ! write"}
            ),
            id="gdalg",
        ),
    ],
)
@pytest.mark.parametrize("name", ["x.geojson", "x.json", "x.shp"])
def test_disguised_gdal_datasets_are_not_followed(tmp_path: Path, secret: Path, content, name: str) -> None:
    path = tmp_path / name
    path.write_text(content(secret))
    with pytest.raises(GeoFileError) as error:
        read_polygon_features(path)
    assert "hunter2" not in str(error.value)


def test_disguised_vrt_in_a_zip_is_not_followed(tmp_path: Path, secret: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("districts.shp", _vrt(secret))
    with pytest.raises(GeoFileError, match=r"'districts\.shp' is not a shapefile"):
        read_polygon_features(path)
