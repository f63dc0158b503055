"""Pictures made from results: heat-map overlays and annotated images for export."""
