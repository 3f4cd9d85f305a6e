"""`JSONBodyRequest`: PTB's HTTP transport, posting each Bot API call as one JSON body.

PTB's `HTTPXRequest` sends parameters as a urlencoded form. For a movie card (an HTML
caption, a poster URL, a keyboard) `urlencode` costs ~40 µs per message, `json.dumps`
~6 µs; the Bot API takes ``application/json`` bodies as well. Calls that upload files
still go out as PTB's multipart form. Timeouts and the mapping of httpx errors to PTB's
`TimedOut` / `NetworkError` are PTB's, restated for the JSON branch.
"""

from __future__ import annotations

import json

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

JSON_HEADERS = {"User-Agent": HTTPXRequest.USER_AGENT, "Content-Type": "application/json"}


class JSONBodyRequest(HTTPXRequest):
    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is None or request_data.contains_files or self._client.is_closed:
            return await super().do_request(url, method, request_data, read_timeout,
                                            write_timeout, connect_timeout, pool_timeout)
        defaults = self._client.timeout
        timeout = httpx.Timeout(
            connect=_or_default(connect_timeout, defaults.connect),
            read=_or_default(read_timeout, defaults.read),
            write=_or_default(write_timeout, defaults.write),
            pool=_or_default(pool_timeout, defaults.pool),
        )
        body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
        try:
            res = await self._client.request(method=method, url=url, headers=JSON_HEADERS,
                                             timeout=timeout, content=body)
        except httpx.PoolTimeout as err:
            raise TimedOut("Pool timeout: all connections in the pool are busy; the request "
                           "was not sent to Telegram.") from err
        except httpx.TimeoutException as err:
            raise TimedOut from err
        except httpx.HTTPError as err:
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return res.status_code, res.content


def _or_default(value: object, default: float | None) -> float | None:
    # PTB marks "not given" with a DefaultValue instance, like BaseRequest.DEFAULT_NONE
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value  # type: ignore[return-value]
