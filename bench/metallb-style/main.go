// Command metallb-style answers ARP requests for the given IPv4 addresses on one interface the
// way MetalLB's layer2 speaker does: with github.com/mdlayher/arp, one goroutine blocked in
// Client.Read on a raw AF_PACKET socket, the owned set behind a sync.RWMutex, a per-IP counter
// bumped on every answer, and Client.Reply to the requester. It exists only so that
// bench/layer2.ts can measure ironlb against that design side by side; it is not part of ironlb.
//
// Behaviour follows MetalLB's internal/layer2 (arp.go, announcer.go): ignore ARP replies, ignore
// requests whose Ethernet destination is neither broadcast nor our MAC, ignore targets we do not
// own, answer the rest; at start send a gratuitous request and reply per IP to broadcast.
//
// Usage: metallb-style -interface IF -ip A.B.C.D [-ip ...]. Prints "ready" once it answers;
// exits 0 on SIGTERM or SIGINT.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

type ipList []netip.Addr

func (l *ipList) String() string { return fmt.Sprint([]netip.Addr(*l)) }

func (l *ipList) Set(s string) error {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("-ip %q: not an IPv4 address", s)
	}
	*l = append(*l, ip)
	return nil
}

// owned is the announcer's view: which IPs this node answers for, and how often it did.
type owned struct {
	mu      sync.RWMutex
	ips     map[netip.Addr]bool
	answers map[netip.Addr]uint64 // ip -> answers sent, the stand-in for a Prometheus counter
}

func (o *owned) has(ip netip.Addr) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.ips[ip]
}

func (o *owned) answered(ip netip.Addr) {
	o.mu.Lock()
	o.answers[ip]++
	o.mu.Unlock()
}

func gratuitous(c *arp.Client, mac net.HardwareAddr, ip netip.Addr) error {
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		pkt, err := arp.NewPacket(op, mac, ip, ethernet.Broadcast, ip)
		if err != nil {
			return err
		}
		if err := c.WriteTo(pkt, ethernet.Broadcast); err != nil {
			return err
		}
	}
	return nil
}

// serve answers requests until stopping is set and the client closed.
func serve(c *arp.Client, mac net.HardwareAddr, o *owned, stopping *atomic.Bool) {
	for {
		pkt, eth, err := c.Read()
		if err != nil {
			// A closed mdlayher/socket Conn reads EBADF, not io.EOF: without the flag this
			// loop would spin after Close.
			if stopping.Load() {
				return
			}
			continue // MetalLB counts other read errors and reads on
		}
		if pkt.Operation != arp.OperationRequest {
			continue
		}
		if !bytes.Equal(eth.Destination, ethernet.Broadcast) && !bytes.Equal(eth.Destination, mac) {
			continue
		}
		if !o.has(pkt.TargetIP) {
			continue
		}
		if err := c.Reply(pkt, mac, pkt.TargetIP); err == nil {
			o.answered(pkt.TargetIP)
		}
	}
}

func main() {
	var ips ipList
	ifName := flag.String("interface", "", "interface to answer on")
	flag.Var(&ips, "ip", "IPv4 address to answer for (repeatable)")
	flag.Parse()
	if *ifName == "" || len(ips) == 0 {
		fmt.Fprintln(os.Stderr, "usage: metallb-style -interface IF -ip A.B.C.D [-ip ...]")
		os.Exit(2)
	}
	ifi, err := net.InterfaceByName(*ifName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "metallb-style: interface %s: %v\n", *ifName, err)
		os.Exit(1)
	}
	c, err := arp.Dial(ifi)
	if err != nil {
		fmt.Fprintf(os.Stderr, "metallb-style: ARP socket on %s: %v\n", *ifName, err)
		os.Exit(1)
	}
	o := &owned{ips: map[netip.Addr]bool{}, answers: map[netip.Addr]uint64{}}
	for _, ip := range ips {
		o.ips[ip] = true
	}
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		serve(c, ifi.HardwareAddr, o, &stopping)
		close(done)
	}()
	for _, ip := range ips {
		if err := gratuitous(c, ifi.HardwareAddr, ip); err != nil {
			fmt.Fprintf(os.Stderr, "metallb-style: gratuitous ARP for %s: %v\n", ip, err)
		}
	}
	fmt.Println("ready")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	stopping.Store(true)
	c.Close()
	<-done
	o.mu.RLock()
	for ip, n := range o.answers {
		fmt.Printf("answered %s %d\n", ip, n)
	}
	o.mu.RUnlock()
}
