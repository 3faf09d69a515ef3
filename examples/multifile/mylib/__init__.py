"""The project's own library: imported by the flow file, shipped in the code package beside it."""
