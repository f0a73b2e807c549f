"""A small FastMCP server the e2e tests mount as an upstream over stdio
(tests/tests/e2e/upstreams.rs), with the Python clients' venv.

Besides ordinary tools, a resource template and a prompt, it misbehaves on
request: a tool whose input schema is far over toolhost's schema budget, a
tool that floods its caller with progress notifications and the session
with list_changed notifications, and one whose result is as large as asked.
"""

import sys

from fastmcp import Context, FastMCP
from fastmcp.tools import Tool

mcp = FastMCP("fastmcp-fixture", instructions="A FastMCP server mounted as an upstream.")


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool
async def flood(ctx: Context, progress: int = 5000, changes: int = 200) -> str:
    """Send `progress` progress notifications and `changes` list_changed ones."""
    for i in range(progress):
        await ctx.report_progress(i + 1, progress)
    for _ in range(changes):
        await ctx.session.send_tool_list_changed()
    return "flooded"


@mcp.tool
def big(size: int) -> str:
    """A text of `size` bytes."""
    return "x" * size


@mcp.resource("greeting://{name}")
def greeting(name: str) -> str:
    """A greeting for `name`."""
    return f"Hello, {name}!"


@mcp.prompt
def review(code: str) -> str:
    """Ask for a review of `code`."""
    return f"Please review this code:\n{code}"


def huge(text: str) -> int:
    """A tool whose input schema is over a megabyte."""
    return len(text)


# The schema of `huge` holds a megabyte of enum values: over toolhost's
# schema budget (server.schema_size, 256 KiB by default).
tool = Tool.from_function(huge)
tool.parameters["properties"]["text"]["enum"] = [f"value-{i:08}" for i in range(70000)]
mcp.add_tool(tool)

if __name__ == "__main__":
    print("fastmcp fixture starting", file=sys.stderr)
    mcp.run(transport="stdio", show_banner=False)
