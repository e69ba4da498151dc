// k6's open model doing what bench/locustfiles/mixed.py's MixedUser does under headroom's open model:
// RATE arrivals a second for SECONDS (constant-arrival-rate), each one request, GET /read or POST /write
// with a JSON body, 3 to 1. bench/open_model.py runs it: k6 run -e HOST=... -e RATE=... -e SECONDS=...
import http from 'k6/http';

export const options = {
  discardResponseBodies: true,
  scenarios: {
    open: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE),
      timeUnit: '1s',
      duration: `${__ENV.SECONDS}s`,
      preAllocatedVUs: Number(__ENV.VUS || 200),
      maxVUs: Number(__ENV.MAX_VUS || 1000),
    },
  },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

const host = __ENV.HOST;
const body = JSON.stringify({ x: 1 });
const json = { headers: { 'Content-Type': 'application/json' } };

export default function () {
  if (Math.random() < 0.75) {
    http.get(`${host}/read`);
  } else {
    http.post(`${host}/write`, body, json);
  }
}
