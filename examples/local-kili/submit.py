"""Submit a label on the local emulator, as a labeler would in Kili's app.

    python examples/local-kili/submit.py asset-3

It uses the real kili client with KILI_API_ENDPOINT and KILI_API_KEY (printed by
`kili-rules emulator`); the emulator then POSTs onSubmit to the registered webhook.
"""

import sys

from kili.client import Kili

asset_id = sys.argv[1] if len(sys.argv) > 1 else "asset-3"
three_boxes = {
    "JOB_0": {
        "annotations": [
            {
                "mid": f"{asset_id}-{i}",
                "type": "rectangle",
                "categories": [{"name": "OBJECT_A"}],
                "boundingPoly": [
                    {
                        "normalizedVertices": [
                            {"x": x, "y": 0.1},
                            {"x": x, "y": 0.3},
                            {"x": x + 0.2, "y": 0.3},
                            {"x": x + 0.2, "y": 0.1},
                        ]
                    }
                ],
            }
            for i, x in enumerate((0.05, 0.35, 0.65))
        ]
    }
}
kili = Kili()  # KILI_API_ENDPOINT, KILI_API_KEY from the environment
kili.append_labels(json_response_array=[three_boxes], asset_id_array=[asset_id])
print(f"submitted a label with 3 boxes of OBJECT_A on {asset_id}")
