package checks

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/meshdojo/meshdojo/internal/traffic"
)

// TrafficSettings are the reader's choices for the checks that send
// traffic. The command line reads them from its flags (and the
// environment) for each run and hands them to the engine, which gives
// them to checks through Env.Traffic.
type TrafficSettings struct {
	// Ingress, such as http://localhost:9080, replaces ingress discovery:
	// the reader already runs `kubectl port-forward` (as the book does)
	// or has another address for the gateway. Flag --ingress.
	Ingress string
	// ProbeImage replaces curlimages/curl in probe pods, for clusters
	// that pull from a mirror. Flag --probe-image.
	ProbeImage string
	// Keycloak, such as http://localhost:8080, is where http-probe asks
	// for a token (token-user) instead of port-forwarding to the ingress
	// gateway's Keycloak port. Flag --keycloak.
	Keycloak string
}

// ParseTraffic validates the traffic settings and returns them
// normalised. The error names the bad flag and shows a good value, ready
// for the command line to print.
func ParseTraffic(s TrafficSettings) (TrafficSettings, error) {
	ing, err := traffic.ParseOverride(s.Ingress)
	if err != nil {
		return s, fmt.Errorf("--ingress: %v", err)
	}
	s.Ingress = ing
	kc, err := traffic.ParseOverride(s.Keycloak)
	if err != nil {
		return s, fmt.Errorf("--keycloak: %v", err)
	}
	s.Keycloak = kc
	s.ProbeImage = strings.TrimSpace(s.ProbeImage)
	if err := ValidImage(s.ProbeImage); err != nil {
		return s, fmt.Errorf("--probe-image: %q is not %v", s.ProbeImage, err)
	}
	return s, nil
}

// TrafficFromEnv returns the settings the environment variables
// MESHDOJO_INGRESS and MESHDOJO_PROBE_IMAGE give, for the command line to
// start from before its flags.
func TrafficFromEnv() TrafficSettings {
	return TrafficSettings{Ingress: os.Getenv("MESHDOJO_INGRESS"), ProbeImage: os.Getenv("MESHDOJO_PROBE_IMAGE"), Keycloak: os.Getenv("MESHDOJO_KEYCLOAK")}
}

// ValidImage refuses an image reference with blanks, saying what is wanted.
func ValidImage(v string) error {
	if strings.ContainsAny(v, " \t\n") {
		return errors.New("an image reference such as curlimages/curl:8.11.1")
	}
	return nil
}
