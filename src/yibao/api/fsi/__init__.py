"""The national platform's interface for designated institutions (医疗保障信息平台 定点医药机构
接口规范): ``POST /fsi/api/rsfComIfsService/callService``, an adapter over the same transaction
handlers as ``/api/v1/tx`` (``envelope``: the platform's envelope and answer; ``signin``:
9001/9002; ``mapping``: each national transaction's input and output onto yibao's; ``route``)."""
