"""Drives toolhost with the official MCP Python SDK (`mcp`) and FastMCP's
client, each in its default mode: `server/discover`, then the 2026-07-28
protocol, where the server's questions come back as `input_required`
results that the client answers by retrying.

    python ask.py http://127.0.0.1:PORT/mcp
    python ask.py stdio TOOLHOST serve DIR --config FILE

Calls the conformance group's tools that ask the client something
(sampling, a form, a URL, roots, several at once) and prints one JSON object
per call: {"client", "protocol", "tool", "text", "isError"}. The answers it
gives are fixed, so the caller can check what the group made of them.
"""

import asyncio
import json
import sys

import mcp_types as types
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StdioTransport
from mcp import Client, StdioServerParameters

SAMPLED = "Hello from Python"
NAME = "Ada"
CALLS = [
    ("test_sampling", {"prompt": "Say hi"}),
    ("test_input_required_result_elicitation", {}),
    ("test_elicitation_url", {}),
    ("test_input_required_result_multiple_inputs", {}),
]


def report(client, protocol, tool, result):
    text = result.content[0].text if result.content else ""
    print(
        json.dumps(
            {
                "client": client,
                "protocol": protocol,
                "tool": tool,
                "text": text,
                "isError": bool(result.is_error),
            }
        ),
        flush=True,
    )


async def sdk(target):
    async def sampling(_context, _params):
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLED),
            model="python",
            stop_reason="endTurn",
        )

    async def elicitation(_context, params):
        if isinstance(params, types.ElicitRequestURLParams):
            return types.ElicitResult(action="accept")
        return types.ElicitResult(action="accept", content={"name": NAME})

    async def roots(_context):
        return types.ListRootsResult(roots=[types.Root(uri="file:///work", name="work")])

    async with Client(
        target,
        sampling_callback=sampling,
        elicitation_callback=elicitation,
        list_roots_callback=roots,
    ) as client:
        for tool, arguments in CALLS:
            result = await client.call_tool(tool, arguments)
            report("mcp", client.protocol_version, tool, result)


async def fastmcp(target):
    def sampling(_messages, _params, _context):
        return SAMPLED

    async def elicitation(_message, response_type, params, _context):
        if response_type is None:
            return {}
        return {"name": NAME}

    async with FastMCPClient(
        target,
        sampling_handler=sampling,
        elicitation_handler=elicitation,
        roots=["file:///work"],
    ) as client:
        protocol = client.session.protocol_version
        for tool, arguments in CALLS:
            result = await client.call_tool(tool, arguments, raise_on_error=False)
            report("fastmcp", protocol, tool, result)


async def main(argv):
    if argv[0] == "stdio":
        command, args = argv[1], argv[2:]
        await sdk(StdioServerParameters(command=command, args=args))
        await fastmcp(StdioTransport(command=command, args=args))
    else:
        await sdk(argv[0])
        await fastmcp(argv[0])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
