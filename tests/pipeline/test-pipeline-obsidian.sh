#!/usr/bin/env bash
# The pipeline test with canvases exported in the plugin's own (Obsidian) format.
RGS_PIPELINE_CANVAS=obsidian exec bash "$(dirname "$0")/test-pipeline.sh"
