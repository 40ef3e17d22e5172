package fakelab

// Bookinfo as the book's lab runs it (github.com/hiroki-it/istio-demo,
// bookinfo-app/ charts, and istio/istio samples/bookinfo/src for the
// upstream images), chosen by each pod's app and version labels:
//
//   - productpage: /productpage (HTML, always 200, degraded texts when a
//     backend fails), and /api/v1/products/0, /reviews, /ratings which
//     pass the backend's status and JSON through unchanged.
//   - details: v1 hard-coded (publisher PublisherA), v3 Google Books data.
//   - reviews: podname names the answering pod; v1 has no rating, v2
//     black stars, v4 red stars; v2 and v4 call ratings, v4 passes a
//     ratings failure's status on.
//   - ratings: v1-v3 answer {"id":0,"ratings":{"Reviewer1":5,
//     "Reviewer2":4}}; v-delayed* answers half its calls after 7 s,
//     v-faulty* answers half with 503, v-50percent-internal-server-error-500
//     half with 500 (ratings.js: Math.random() <= 0.5).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// inbound delivers a request to endpoint ep: its sidecar (if any)
// reports it, and the application answers.
func (s *Sim) inbound(ctx context.Context, w *World, from *caller, ep *Pod, svc *Service, req Request, mode string) Response {
	self := &caller{pod: ep, ns: ep.Namespace, labels: ep.Labels, sidecar: ep.Sidecar, trace: from.trace}
	traceID := ""
	if ep.Sidecar {
		// The server's sidecar joins the trace before the application
		// answers (the span covers the application's own calls).
		host := req.Host
		if svc != nil {
			host = svc.FQDN()
		}
		traceID = s.hop(w, ep, "SERVER", from.trace, fmt.Sprintf("%s:%d/*", host, req.Port), req)
	}
	var r Response
	if denied := s.guard(w, from, ep, req, mode); denied != nil {
		r = *denied
	} else {
		r = s.app(ctx, w, self, req)
	}
	// The application's answer is a new response: flags of the calls it
	// made itself stay in its own proxy's records.
	r.Flags = "-"
	if ctx.Err() == nil {
		sec := "none"
		if mode == "mtls" {
			sec = "mutual_tls"
		}
		s.recordRequest(from, ep, svc, r, sec, true)
		if ep.Sidecar && !from.tcp {
			port := req.Port
			s.logAccess(w, ep, ep.Key(), "SERVER", accessEvent{req: req, status: r.Status, flags: "-",
				cluster: fmt.Sprintf("inbound|%d||", port), trace: traceID})
		}
	}
	return r
}

func jsonResp(status int, v any) Response {
	b, _ := json.Marshal(v)
	return Response{Status: status, Body: string(b), Header: http.Header{"Content-Type": {"application/json"}}}
}

// call is the application calling another service through its sidecar.
func (s *Sim) call(ctx context.Context, w *World, self *caller, host, path string, in Request) Response {
	h := http.Header{}
	for _, k := range []string{"Cookie", "Authorization", "X-Request-Id", "Traceparent", "X-B3-Traceid", "End-User", "X-User"} {
		if v := in.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return s.send(ctx, w, self, Request{Method: http.MethodGet, Host: host + "." + self.ns, Port: 9080, Path: path, Header: h})
}

func (s *Sim) app(ctx context.Context, w *World, self *caller, req Request) Response {
	p := self.pod
	if r, ok := s.infraApp(ctx, w, self, req); ok {
		return r
	}
	version := p.Labels["version"]
	path := pathOnly(req.Path)
	if isKeycloak(p) {
		return s.keycloak(w, self, req)
	}
	switch p.Labels["app"] {
	case "productpage":
		// The JSON API passes a backend's answer on as the lab's
		// productpage.py does (getProductDetails, getProductReviews,
		// getProductRatings): a 200 as it is; 401 and 403 as a sign-in
		// message; a 503 or 504 with its JSON body, or, when the body is
		// not JSON (Envoy's "no healthy upstream", "fault filter abort"),
		// with productpage's own error; any other status with its own
		// error; and no answer at all (requests raised) as a 500.
		pass := func(what string, r Response) Response {
			sorry := map[string]string{"error": backendError(500, what, ".")}
			switch {
			case r.Status == 200:
				return r
			case r.Status == 401 || r.Status == 403:
				return jsonResp(r.Status, map[string]string{"error": backendError(r.Status, what, ".")})
			case (r.Status == 503 || r.Status == 504) && json.Valid([]byte(r.Body)):
				return Response{Status: r.Status, Body: r.Body, Header: http.Header{"Content-Type": {"application/json"}}}
			case r.Status == 0:
				return jsonResp(500, sorry)
			}
			return jsonResp(r.Status, sorry)
		}
		switch path {
		case "/productpage":
			d := s.call(ctx, w, self, "details", "/details/0", req)
			r := s.call(ctx, w, self, "reviews", "/reviews/0", req)
			// A 401 from either (a token the backend's sidecar refused)
			// makes the lab's productpage sign the user out.
			if d.Status == 401 || r.Status == 401 {
				return Response{Status: 302, Header: http.Header{"Location": {"http://" + req.Host + "/logout"}, "Content-Type": {"text/html"}}}
			}
			var b strings.Builder
			b.WriteString("<html><body><h3>The Comedy of Errors</h3>")
			if d.Status == 200 {
				b.WriteString("<h4>Book Details</h4>" + d.Body)
			} else {
				fmt.Fprintf(&b, "<p>Error fetching product details</p><p><strong>%d</strong>: %s</p>", d.Status, backendError(d.Status, "details", "."))
			}
			// The lab's productpage keeps reviews' JSON for a 503 or 504
			// (reviews-v4's fallback note) and puts in its own error for
			// any other failure (productpage.py, getProductReviews).
			if r.Status == 200 || (r.Status == 503 || r.Status == 504) && json.Valid([]byte(r.Body)) {
				var body struct {
					Podname string `json:"podname"`
				}
				json.Unmarshal([]byte(r.Body), &body)
				b.WriteString("<h4>Book Reviews</h4>" + r.Body + "<div>Reviews served by: " + body.Podname + "</div>")
			} else {
				fmt.Fprintf(&b, "<p>Error fetching product reviews</p><p><strong>%d</strong>: %s</p>", r.Status, backendError(r.Status, "reviews", "."))
			}
			b.WriteString("</body></html>")
			return Response{Status: 200, Body: b.String(), Header: http.Header{"Content-Type": {"text/html"}}}
		case "/api/v1/products/0":
			return pass("details", s.call(ctx, w, self, "details", "/details/0", req))
		case "/api/v1/products/0/reviews":
			return pass("reviews", s.call(ctx, w, self, "reviews", "/reviews/0", req))
		case "/api/v1/products/0/ratings":
			return pass("ratings", s.call(ctx, w, self, "ratings", "/ratings/0", req))
		case "/health", "/":
			return Response{Status: 200, Body: "ok", Header: textHeader()}
		}
	case "details":
		if strings.HasPrefix(path, "/details/") {
			if version == "v1" {
				return jsonResp(200, map[string]any{"id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback",
					"pages": 200, "publisher": "PublisherA", "language": "English", "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"})
			}
			return jsonResp(200, map[string]any{"id": 0, "author": "William Shakespeare", "year": 1995, "type": "paperback",
				"pages": 96, "publisher": "Dover Publications", "language": "English", "ISBN-10": "0486424618", "ISBN-13": "9780486424613"})
		}
		if path == "/health" {
			return jsonResp(200, map[string]string{"status": "Details is healthy"})
		}
	case "reviews":
		if strings.HasPrefix(path, "/reviews/") {
			return s.reviews(ctx, w, self, version, req)
		}
		if path == "/health" {
			return jsonResp(200, map[string]string{"status": "Reviews is healthy"})
		}
	case "ratings":
		if path == "/health" {
			return jsonResp(200, map[string]string{"status": "Ratings is healthy"})
		}
		if strings.HasPrefix(path, "/ratings/") {
			ok := jsonResp(200, map[string]any{"id": 0, "ratings": map[string]int{"Reviewer1": 5, "Reviewer2": 4}})
			switch {
			case strings.HasPrefix(version, "v-delayed"):
				if s.chance(50) && !s.sleep(ctx, 7*time.Second) {
					return Response{}
				}
			case strings.HasPrefix(version, "v-faulty"):
				if s.chance(50) {
					return jsonResp(503, map[string]string{"error": "Service unavailable"})
				}
			case strings.Contains(version, "internal-server-error-500"):
				if s.chance(50) {
					return jsonResp(500, map[string]string{"error": "Internal Server Error"})
				}
			}
			return ok
		}
	default:
		return Response{Status: 200, Body: "ok", Header: textHeader()}
	}
	return Response{Status: 404, Body: "not found", Header: textHeader()}
}

func (s *Sim) reviews(ctx context.Context, w *World, self *caller, version string, req Request) Response {
	status := 200
	var rating func(stars int) map[string]any
	color := map[string]string{"v2": "black"}[version]
	if color == "" {
		color = "red"
	}
	if version != "v1" {
		r := s.call(ctx, w, self, "ratings", "/ratings/0", req)
		var body struct {
			Ratings map[string]int `json:"ratings"`
		}
		if r.Status == 200 && json.Unmarshal([]byte(r.Body), &body) == nil {
			rating = func(n int) map[string]any { return map[string]any{"stars": n, "color": color} }
		} else {
			if version != "v2" && r.Status != 0 {
				status = r.Status // v4 passes ratings' failure on
			}
			// The lab's reviews tells a 503 or 504 (a resilience
			// pattern at work, which passes) from other failures.
			msg := "Sorry, product ratings are currently unavailable."
			if r.Status == 503 || r.Status == 504 {
				msg = "Sorry, product ratings are currently temporarily unavailable. Please try again later."
			}
			rating = func(int) map[string]any { return map[string]any{"error": msg} }
		}
	}
	review := func(name string, stars int) map[string]any {
		m := map[string]any{"reviewer": name, "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"}
		if rating != nil {
			m["rating"] = rating(stars)
		}
		return m
	}
	return jsonResp(status, map[string]any{"id": "0", "podname": self.pod.Name, "clustername": "null",
		"reviews": []any{review("Reviewer1", 5), review("Reviewer2", 4)}})
}

// backendError is the lab's productpage's text for a backend's failure
// (productpage.py, getProductDetails and getProductReviews): a sign-in
// request for 401 and 403, else its "currently unavailable" note.
func backendError(status int, what, stop string) string {
	switch status {
	case 401, 403:
		if what == "details" && status == 401 {
			stop = ""
		}
		return "Please sign in to view product " + what + stop
	}
	return "Sorry, product " + what + " are currently unavailable."
}
