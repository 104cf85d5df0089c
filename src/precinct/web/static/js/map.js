// The map both pages draw: precinct's own roads and grid polygons on a plain background (no tiles, no fonts, no
// CDN), with sources the pages fill with incidents, units and a route.

const PRIORITY_COLOURS = ["match", ["get", "priority"], 1, "#ef4444", 2, "#f97316", 3, "#eab308", "#38bdf8"];
const UNIT_COLOURS = [
  "match",
  ["get", "status"],
  "available", "#22c55e",
  "assigned", "#facc15",
  "en_route", "#fb923c",
  "on_scene", "#a855f7",
  "returning", "#2dd4bf",
  "#6b7280",
];

export const EMPTY = { type: "FeatureCollection", features: [] };

export async function createMap(container, { dark = true } = {}) {
  const network = await fetch("/api/roads").then((r) => (r.ok ? r.json() : null));
  const map = new maplibregl.Map({
    container,
    style: {
      version: 8,
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": dark ? "#0b1220" : "#eef2f5" } }],
    },
    bounds: network ? [network.bounds.slice(0, 2), network.bounds.slice(2, 4)] : [[-122.8, 45.45], [-122.5, 45.6]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  await new Promise((resolve) => map.on("load", resolve));
  map.addSource("grids", { type: "geojson", data: "/api/grids.geojson" });
  map.addSource("roads", { type: "geojson", data: network ? "/api/roads/lines.geojson" : EMPTY });
  for (const name of ["route", "incidents", "units"]) map.addSource(name, { type: "geojson", data: EMPTY });
  map.addLayer({
    id: "grids-fill",
    type: "fill",
    source: "grids",
    paint: { "fill-color": dark ? "#1e3a5f" : "#cfe0f1", "fill-opacity": 0.25 },
  });
  map.addLayer({
    id: "grids-line",
    type: "line",
    source: "grids",
    paint: { "line-color": dark ? "#3b82f6" : "#5b8cc4", "line-width": 1, "line-opacity": 0.6 },
  });
  map.addLayer({
    id: "roads",
    type: "line",
    source: "roads",
    paint: {
      "line-color": dark ? "#475569" : "#9aa8b6",
      "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.4, 15, 2],
    },
  });
  map.addLayer({
    id: "route",
    type: "line",
    source: "route",
    layout: { "line-cap": "round", "line-join": "round" },
    paint: { "line-color": "#22d3ee", "line-width": 4, "line-opacity": 0.9 },
  });
  map.addLayer({
    id: "incidents",
    type: "circle",
    source: "incidents",
    paint: {
      "circle-color": PRIORITY_COLOURS,
      "circle-radius": ["case", ["get", "selected"], 10, 7],
      "circle-stroke-color": ["case", ["get", "overdue"], "#ff0000", ["get", "awaiting"], "#ffffff", "#0f172a"],
      "circle-stroke-width": ["case", ["get", "overdue"], 4, ["get", "awaiting"], 2.5, 1],
      "circle-opacity": ["case", ["==", ["get", "status"], "cleared"], 0.5, 1],
    },
  });
  map.addLayer({
    id: "units",
    type: "circle",
    source: "units",
    paint: {
      "circle-color": UNIT_COLOURS,
      "circle-radius": ["case", ["get", "highlight"], 8, 5],
      "circle-stroke-color": dark ? "#0b1220" : "#ffffff",
      "circle-stroke-width": 1.5,
    },
  });
  return map;
}

export function points(items, properties) {
  return {
    type: "FeatureCollection",
    features: items
      .filter((item) => item.lon !== null && item.lat !== null && item.lon !== undefined)
      .map((item) => ({
        type: "Feature",
        geometry: { type: "Point", coordinates: [item.lon, item.lat] },
        properties: properties(item),
      })),
  };
}

// A popup with the name of what is under the pointer (HTML: the map itself draws no text).
export function hoverLabels(map, layer, label) {
  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 10 });
  map.on("mousemove", layer, (event) => {
    map.getCanvas().style.cursor = "pointer";
    popup.setLngLat(event.lngLat).setText(label(event.features[0].properties)).addTo(map);
  });
  map.on("mouseleave", layer, () => {
    map.getCanvas().style.cursor = "";
    popup.remove();
  });
}
