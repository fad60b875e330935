/* Kontakt inbox: live updates by polling, canned replies, @mentions, the reply-window countdown.
 *
 * Pollers are elements with data-live ("list" or "thread") and hx-get; htmx fires them
 * every ~1.5 s with hx-swap="none". Their answer holds:
 *   [data-live-cursor]             the `since` to send next time;
 *   [data-upsert-into=<selector>]  rows to put in place by id, ordered by data-sort
 *                                  (data-order="desc" for threads, "asc" for messages);
 *   [data-remove-id]               rows to take out (no longer matching the filters, merged
 *                                  away or deleted);
 *   [data-replace]                 blocks to swap by id (header, composer, presence),
 *                                  never while the agent's focus is inside them.
 * A thread poll for a thread that is gone answers with an HX-Redirect header instead (to the
 * thread it was merged into, or to the list): htmx follows it, and polling stops meanwhile.
 */
(function () {
  "use strict";

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  function focusInside(el) {
    var active = document.activeElement;
    return active && active !== document.body && el.contains(active);
  }

  function sourceOf(el) {
    return el._kontaktSource || el.outerHTML;
  }

  function hasMore(container) {
    if (container.id === "thread-rows") return !!document.querySelector("#list-more a");
    if (container.id === "timeline") return !!document.querySelector("#older button");
    return false;
  }

  function markCurrentThread() {
    var layout = document.querySelector("[data-thread-id]");
    if (!layout) return;
    var row = document.getElementById("thread-" + layout.dataset.threadId);
    if (row && !row.classList.contains("is-current")) {
      row.classList.add("is-current");
      var link = row.querySelector("a");
      if (link) link.setAttribute("aria-current", "page");
    }
  }

  function upsert(container, item, desc) {
    var source = item.outerHTML;
    var old = document.getElementById(item.id);
    if (old && sourceOf(old) === source) return;
    var hadFocus = old && focusInside(old);
    var key = item.dataset.sort || "";
    var siblings = container.querySelectorAll(":scope > [data-sort]");
    var before = null;
    for (var i = 0; i < siblings.length; i++) {
      var sibling = siblings[i];
      if (sibling === old) continue;
      var other = sibling.dataset.sort || "";
      if (desc ? other < key : other > key) {
        before = sibling;
        break;
      }
    }
    var outsideLoadedRange = desc ? before === null : before === siblings[0] && siblings[0] !== old;
    if (old) old.remove();
    // A row beyond the loaded pages comes with "load more" instead.
    if (outsideLoadedRange && hasMore(container) && (desc || !old)) return;
    item._kontaktSource = source;
    container.insertBefore(item, before);
    var empty = container.querySelector(":scope > [data-empty]");
    if (empty) empty.remove();
    if (window.htmx) window.htmx.process(item);
    if (hadFocus) {
      var focusable = item.querySelector("a, button");
      if (focusable) focusable.focus();
    } else if (!old || desc) {
      item.classList.add("is-fresh");
    }
  }

  function keepOpenDetails(oldBlock, newBlock) {
    var openSummaries = {};
    oldBlock.querySelectorAll("details[open] > summary").forEach(function (summary) {
      openSummaries[summary.textContent.trim()] = true;
    });
    newBlock.querySelectorAll("details > summary").forEach(function (summary) {
      if (openSummaries[summary.textContent.trim()]) summary.parentElement.setAttribute("open", "");
    });
  }

  function replaceBlock(block) {
    var old = document.getElementById(block.id);
    if (!old || focusInside(old)) return;
    if (block.dataset.key !== undefined) {
      if (old.dataset.key === block.dataset.key) return;
    } else if (sourceOf(old) === block.outerHTML) {
      return;
    }
    var source = block.outerHTML;
    keepOpenDetails(old, block);
    old.replaceWith(block);
    block._kontaktSource = source;
    if (window.htmx) window.htmx.process(block);
  }

  function applyLive(poller, html) {
    var fragment = parse(html);
    var cursor = fragment.querySelector("[data-live-cursor]");
    if (!cursor) return false; // not a poll answer (e.g. the login page after a logout)
    poller.dataset.since = cursor.dataset.liveCursor;
    fragment.querySelectorAll("[data-upsert-into]").forEach(function (group) {
      var container = document.querySelector(group.dataset.upsertInto);
      if (!container) return;
      var desc = group.dataset.order === "desc";
      Array.prototype.slice.call(group.children).forEach(function (item) {
        upsert(container, item, desc);
      });
    });
    fragment.querySelectorAll("[data-remove-id]").forEach(function (marker) {
      var old = document.getElementById(marker.dataset.removeId);
      if (old && !focusInside(old)) old.remove();
    });
    fragment.querySelectorAll("[data-replace]").forEach(replaceBlock);
    markCurrentThread();
    updateCountdowns();
    return true;
  }

  function setBanner(paused) {
    document.querySelectorAll("[data-live-banner]").forEach(function (banner) {
      banner.hidden = !paused;
    });
    document.documentElement.classList.toggle("live-paused", paused);
  }

  function dedupe(container) {
    var seen = {};
    Array.prototype.slice.call(container.children).forEach(function (child) {
      if (!child.id) return;
      if (seen[child.id]) child.remove();
      else seen[child.id] = true;
    });
  }

  var leaving = false; // an HX-Redirect is being followed

  document.addEventListener("htmx:beforeRequest", function (event) {
    var poller = event.detail.elt;
    if (leaving && poller.dataset && poller.dataset.live) event.preventDefault();
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var poller = event.detail.elt;
    if (!poller.dataset || !poller.dataset.live) return;
    event.detail.parameters.since = poller.dataset.since;
    if (poller.dataset.live === "thread") {
      var watched = Array.prototype.map.call(document.querySelectorAll("#timeline [data-watch]"), function (el) {
        return el.dataset.watch;
      });
      event.detail.parameters.watch = watched.slice(-40).join(",");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var poller = event.detail.elt;
    if (!poller.dataset || !poller.dataset.live) return;
    if (event.detail.xhr && event.detail.xhr.getResponseHeader("HX-Redirect")) {
      leaving = true;
      return;
    }
    var ok = event.detail.successful && applyLive(poller, event.detail.xhr.responseText);
    setBanner(!ok);
  });

  ["htmx:sendError", "htmx:responseError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var elt = event.detail.elt;
      if (elt && elt.dataset && elt.dataset.live) setBanner(true);
    });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === "thread-rows" || target.id === "timeline") {
      dedupe(target);
      markCurrentThread();
    }
  });

  // After a reply the composer comes back empty: focus it and fetch the new message now.
  document.addEventListener("htmx:afterSettle", function (event) {
    var composer = document.getElementById("composer");
    if (!composer || !event.detail.elt || !(event.detail.elt === composer || composer.contains(event.detail.elt))) return;
    var textarea = composer.querySelector("textarea[data-canned]");
    if (textarea) textarea.focus();
    var poller = document.getElementById("thread-poller");
    if (poller && window.htmx) window.htmx.trigger(poller, "poll-now");
  });

  // --- the 24-hour window countdown -----------------------------------------------------

  function updateCountdowns() {
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var left = new Date(el.getAttribute("datetime")).getTime() - Date.now();
      if (isNaN(left)) return;
      if (!el.title) el.title = el.textContent;
      // The page gives the words in the agent's language (docs/i18n.md); English otherwise.
      var texts = el.closest("[data-countdown-in]");
      if (left <= 0) {
        el.textContent = (texts && texts.getAttribute("data-countdown-now")) || "now — reload the page to send a template";
        return;
      }
      var minutes = Math.floor(left / 60000);
      var hours = Math.floor(minutes / 60);
      var span = (hours ? hours + " h " : "") + (minutes % 60) + " min";
      el.textContent = ((texts && texts.getAttribute("data-countdown-in")) || "in {time}").replace("{time}", span);
      el.classList.toggle("is-soon", minutes < 60);
    });
  }
  setInterval(updateCountdowns, 30000);

  // --- canned replies: "/" + shortcut, then Tab or Space --------------------------------

  function cannedReplies() {
    var data = document.getElementById("canned-replies");
    if (!data) return [];
    try {
      return JSON.parse(data.textContent);
    } catch (e) {
      return [];
    }
  }

  function shortcutBeforeCaret(textarea) {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = before.match(/(^|\s)\/([\w-]*)$/);
    return match ? { typed: match[2], start: before.length - match[2].length - 1 } : null;
  }

  function insertCanned(textarea, token, reply) {
    var value = textarea.value;
    var end = token.start + token.typed.length + 1;
    textarea.value = value.slice(0, token.start) + reply.body + value.slice(end);
    var caret = token.start + reply.body.length;
    textarea.setSelectionRange(caret, caret);
    textarea.focus();
    showSuggestions(textarea);
  }

  function showSuggestions(textarea) {
    var list = textarea.form && textarea.form.querySelector("[data-canned-suggestions]");
    if (!list) return;
    list.innerHTML = "";
    var token = shortcutBeforeCaret(textarea);
    var matches = token
      ? cannedReplies().filter(function (reply) {
          return reply.shortcut.indexOf(token.typed) === 0;
        })
      : [];
    matches.slice(0, 6).forEach(function (reply) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = "/" + reply.shortcut + " — " + reply.title;
      button.addEventListener("click", function () {
        var current = shortcutBeforeCaret(textarea) || token;
        insertCanned(textarea, current, reply);
      });
      item.appendChild(button);
      list.appendChild(item);
    });
    list.hidden = matches.length === 0;
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-canned]")) showSuggestions(event.target);
  });

  document.addEventListener("keydown", function (event) {
    var textarea = event.target;
    if (!textarea.matches || !textarea.matches("textarea[data-canned]")) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      textarea.form.requestSubmit();
      return;
    }
    if (event.key !== "Tab" && event.key !== " ") return;
    var token = shortcutBeforeCaret(textarea);
    if (!token || !token.typed) return;
    var reply = cannedReplies().find(function (candidate) {
      return candidate.shortcut === token.typed;
    });
    if (!reply) return; // Tab keeps moving focus unless it completes a shortcut.
    event.preventDefault();
    insertCanned(textarea, token, reply);
  });

  // --- @mentions in the note box: "@" + the start of a name lists matching agents --------

  function mentionAgents() {
    var data = document.getElementById("mention-agents");
    if (!data) return [];
    try {
      return JSON.parse(data.textContent);
    } catch (e) {
      return [];
    }
  }

  function mentionBeforeCaret(textarea) {
    var before = textarea.value.slice(0, textarea.selectionStart);
    var match = before.match(/(^|\s)@([\w.-]*)$/);
    return match ? { typed: match[2].toLowerCase(), start: before.length - match[2].length - 1 } : null;
  }

  function mentionMatches(token) {
    if (!token) return [];
    return mentionAgents().filter(function (agent) {
      var words = [agent.handle].concat(agent.name.toLowerCase().split(/\s+/));
      return words.some(function (word) {
        return word.indexOf(token.typed) === 0;
      });
    });
  }

  function insertMention(textarea, token, agent) {
    var value = textarea.value;
    var end = token.start + token.typed.length + 1;
    var text = "@" + agent.handle + " ";
    textarea.value = value.slice(0, token.start) + text + value.slice(end);
    var caret = token.start + text.length;
    textarea.setSelectionRange(caret, caret);
    textarea.focus();
    showMentions(textarea);
  }

  function showMentions(textarea) {
    var list = textarea.form && textarea.form.querySelector("[data-mention-suggestions]");
    if (!list) return;
    list.innerHTML = "";
    var token = mentionBeforeCaret(textarea);
    var matches = mentionMatches(token).slice(0, 6);
    matches.forEach(function (agent) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = agent.name + " (@" + agent.handle + ")";
      button.addEventListener("click", function () {
        insertMention(textarea, mentionBeforeCaret(textarea) || token, agent);
      });
      item.appendChild(button);
      list.appendChild(item);
    });
    list.hidden = matches.length === 0;
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-mentions]")) showMentions(event.target);
  });

  document.addEventListener("keydown", function (event) {
    var textarea = event.target;
    if (!textarea.matches || !textarea.matches("textarea[data-mentions]") || event.key !== "Tab") return;
    var token = mentionBeforeCaret(textarea);
    var matches = mentionMatches(token);
    if (!token || !token.typed || matches.length !== 1) return; // Tab keeps moving focus otherwise.
    event.preventDefault();
    insertMention(textarea, token, matches[0]);
  });

  document.addEventListener("DOMContentLoaded", function () {
    markCurrentThread();
    updateCountdowns();
  });
})();
